provider "aws" {
  region = "eu-west-1"
}

resource "aws_vpc" "main" {
  cidr_block                       = "10.33.0.0/16"
  enable_dns_hostnames             = true
  assign_generated_ipv6_cidr_block = true
  tags                             = { Name = "ci-vpc" }
}

resource "aws_subnet" "v6" {
  vpc_id                          = aws_vpc.main.id
  cidr_block                      = "10.33.1.0/24"
  ipv6_cidr_block                 = cidrsubnet(aws_vpc.main.ipv6_cidr_block, 8, 1)
  assign_ipv6_address_on_creation = true
  availability_zone               = "eu-west-1a"
  tags                            = { Name = "v6-a" }
}

resource "aws_egress_only_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_route_table" "v6" {
  vpc_id = aws_vpc.main.id
  route {
    ipv6_cidr_block        = "::/0"
    egress_only_gateway_id = aws_egress_only_internet_gateway.main.id
  }
  tags = { Name = "v6" }
}

resource "aws_route_table_association" "v6" {
  subnet_id      = aws_subnet.v6.id
  route_table_id = aws_route_table.v6.id
}

resource "aws_security_group" "runner" {
  name        = "runner"
  description = "runner security group"
  vpc_id      = aws_vpc.main.id
  ingress {
    from_port        = 22
    to_port          = 22
    protocol         = "tcp"
    ipv6_cidr_blocks = ["::/0"]
  }
  egress {
    from_port        = 0
    to_port          = 0
    protocol         = "-1"
    ipv6_cidr_blocks = ["::/0"]
  }
  tags = { Name = "runner" }
}

resource "aws_instance" "runner" {
  ami                    = "ami-0d64bb532e0502c46"
  instance_type          = "t3.large"
  subnet_id              = aws_subnet.v6.id
  vpc_security_group_ids = [aws_security_group.runner.id]
  ipv6_address_count     = 1
  metadata_options {
    http_tokens = "required"
  }
  tags = { Name = "gitlab-runner-v6" }
}
