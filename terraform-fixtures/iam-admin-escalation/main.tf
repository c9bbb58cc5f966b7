provider "aws" {
  region = "eu-west-1"
}

resource "aws_vpc" "main" {
  cidr_block           = "10.25.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = "ci-vpc" }
}

# No route table association: the subnet uses the VPC's main route table (local route only).
resource "aws_subnet" "private" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.25.10.0/24"
  availability_zone = "eu-west-1a"
  tags              = { Name = "private-a" }
}

resource "aws_security_group" "runner" {
  name        = "runner"
  description = "runner security group"
  vpc_id      = aws_vpc.main.id
  egress {
    description = "all egress"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
  tags = { Name = "runner" }
}

data "aws_iam_policy_document" "ec2_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ci_admin" {
  name               = "ci-admin"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
}

resource "aws_iam_role_policy_attachment" "ci_admin" {
  role       = aws_iam_role.ci_admin.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}

resource "aws_iam_instance_profile" "ci_admin" {
  name = "ci-admin"
  role = aws_iam_role.ci_admin.name
}

resource "aws_iam_role" "ci_deployer" {
  name               = "ci-deployer"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
  inline_policy {
    name = "launch"
    policy = jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Allow", Action = ["iam:PassRole", "ec2:RunInstances", "ec2:DescribeInstances"], Resource = "*" }]
    })
  }
}

resource "aws_iam_instance_profile" "ci_deployer" {
  name_prefix = "ci-deployer-"
  role        = aws_iam_role.ci_deployer.name
}

resource "aws_instance" "admin_runner" {
  ami                    = "ami-0d64bb532e0502c46"
  instance_type          = "t3.large"
  subnet_id              = aws_subnet.private.id
  vpc_security_group_ids = [aws_security_group.runner.id]
  iam_instance_profile   = aws_iam_instance_profile.ci_admin.name
  metadata_options {
    http_tokens = "required"
  }
  tags = { Name = "gitlab-runner-admin" }
}

resource "aws_instance" "deploy_runner" {
  ami                    = "ami-0d64bb532e0502c46"
  instance_type          = "t3.large"
  subnet_id              = aws_subnet.private.id
  vpc_security_group_ids = [aws_security_group.runner.id]
  iam_instance_profile   = aws_iam_instance_profile.ci_deployer.name
  metadata_options {
    http_tokens = "required"
  }
  tags = { Name = "build-agent-deploy" }
}
