provider "aws" {
  region = "eu-west-1"
}

resource "aws_vpc" "main" {
  cidr_block           = "10.26.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = "ci-vpc" }
}

# No route table association: the subnet uses the VPC's main route table (local route only).
resource "aws_subnet" "private" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.26.10.0/24"
  availability_zone = "eu-west-1a"
  tags              = { Name = "private-a" }
}

resource "aws_security_group" "runner" {
  name        = "runner"
  description = "runner security group"
  vpc_id      = aws_vpc.main.id
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    description = "all egress"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
  tags = { Name = "runner" }
}

module "runners" {
  source             = "./modules/runner"
  count              = 2
  name               = "gitlab-runner-${count.index}"
  subnet_id          = aws_subnet.private.id
  security_group_ids = [aws_security_group.runner.id]
}
